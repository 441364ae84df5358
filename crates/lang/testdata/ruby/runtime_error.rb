# Runtime error: an uncaught RuntimeError; ruby exits with status 1.
puts "before the error"
raise "boom"
