print("Hello, Kiln!")
