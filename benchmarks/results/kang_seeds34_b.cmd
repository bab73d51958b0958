python benchmarks/holdout.py --cell-type B --methods mmd_z --seeds 3,4 --csv benchmarks/results/kang_seeds34_b.csv
