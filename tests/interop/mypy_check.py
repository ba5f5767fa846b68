"""Runs `mypy --strict` on FILEs with MODULE_DIR (the generated modules) on its path; prints
mypy's report and exits with mypy's status.

Usage: mypy_check.py MODULE_DIR FILE...
"""

import os
import sys

from mypy import api

module_dir, files = sys.argv[1], sys.argv[2:]
os.environ['MYPYPATH'] = module_dir
stdout, stderr, status = api.run(
    ['--strict', '--no-error-summary', '--cache-dir', os.path.join(module_dir, '.mypy_cache'),
     *files])
print(stdout, end='')
print(stderr, end='', file=sys.stderr)
sys.exit(status)
