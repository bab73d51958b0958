python benchmarks/holdout.py --all-cell-types --methods trvae,mmd_z --likelihood mse,nb,zinb --seeds 0 --csv benchmarks/results/kang_a.csv --plots docs/_static   # interrupted after B's trvae rows
