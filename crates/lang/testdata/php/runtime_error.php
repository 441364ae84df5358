<?php
// Runtime error: an uncaught exception (a fatal error); php exits with status 255.
echo "before the error\n";
throw new RuntimeException("boom");
