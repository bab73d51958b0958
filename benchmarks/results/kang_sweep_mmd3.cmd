python benchmarks/holdout.py --all-cell-types --methods trvae,mmd_z --seeds 0 --model-kwargs '{"mmd_weight": 3}' --suffix _mmd3 --csv benchmarks/results/kang_sweep_mmd3.csv
