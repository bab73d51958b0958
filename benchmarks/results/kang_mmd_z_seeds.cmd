python benchmarks/holdout.py --all-cell-types --methods mmd_z --seeds 1,2 --csv benchmarks/results/kang_mmd_z_seeds.csv
