import sys

from gait_tf.cli import main

sys.exit(main())
