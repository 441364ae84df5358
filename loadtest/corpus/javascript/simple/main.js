console.log("Hello, Kiln!");
