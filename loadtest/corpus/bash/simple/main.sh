echo "Hello, Kiln!"
