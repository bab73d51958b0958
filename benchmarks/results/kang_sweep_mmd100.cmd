python benchmarks/holdout.py --all-cell-types --methods trvae --seeds 0 --model-kwargs '{"mmd_weight": 100}' --suffix _mmd100 --csv benchmarks/results/kang_sweep_mmd100.csv
