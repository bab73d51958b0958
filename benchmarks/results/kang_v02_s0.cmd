OMP_NUM_THREADS=1 python benchmarks/holdout.py --all-cell-types --methods trvae,mmd_z --seeds 0 --csv benchmarks/results/kang_v02_s0.csv   # 0.2.0 defaults (b60f325)
