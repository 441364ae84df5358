<?php
echo "Hello, Kiln!\n";
