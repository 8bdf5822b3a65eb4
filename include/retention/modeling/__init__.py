import os

# OpenMP (XGBoost, LightGBM, scikit-learn) spins while it waits for work by default: on a
# worker whose cores are shared (several Airflow tasks, other tenants) the spinning threads
# steal the cores from the ones with work. Measured on this 2-core machine at load 12: the
# quick grid's training on 10,000 rows took 188 s wall / 52 s CPU spinning, 48 s / 14 s
# passive. Set before any of those libraries loads; an operator's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
