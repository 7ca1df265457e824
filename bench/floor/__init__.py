"""The floor: a minimal Django + DRF project doing the same shape of work as callauto's
API (a trivial GET, a one-row insert), served the same way (gunicorn sync x2, the same
database). `make bench` measures it in the same run and prints callauto's ratios to it."""
