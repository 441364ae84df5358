// Runtime error: an uncaught Error; node exits with status 1.
console.log("before the error");
throw new Error("boom");
