python benchmarks/holdout.py --all-cell-types --methods trvae --seeds 0 --model-kwargs '{"mmd_weight": 0.1}' --suffix _mmd0.1 --csv benchmarks/results/kang_sweep_mmd0.1.csv
