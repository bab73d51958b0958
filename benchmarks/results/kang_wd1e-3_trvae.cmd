python benchmarks/holdout.py --all-cell-types --methods trvae --seeds 0 --train-kwargs '{"plan_kwargs": {"weight_decay": 0.001}}' --suffix _wd1e-3 --csv benchmarks/results/kang_wd1e-3_trvae.csv
