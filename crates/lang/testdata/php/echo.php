<?php
stream_copy_to_stream(STDIN, STDOUT);
