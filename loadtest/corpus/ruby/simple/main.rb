puts "Hello, Kiln!"
