python benchmarks/holdout.py --all-cell-types --methods trvae --seeds 0 --model-kwargs '{"mmd_weight": 10}' --suffix _mmd10 --csv benchmarks/results/kang_sweep_mmd10.csv
