OMP_NUM_THREADS=1 python benchmarks/holdout.py --all-cell-types --methods trvae --seeds 3,4 --csv benchmarks/results/kang_v02_trvae_s34.csv   # 0.2.0 defaults (b60f325)
