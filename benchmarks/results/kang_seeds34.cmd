python benchmarks/holdout.py --all-cell-types --methods trvae,mmd_z,cvae --seeds 3,4 --csv benchmarks/results/kang_seeds34.csv
