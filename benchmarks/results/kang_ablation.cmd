python benchmarks/holdout.py --all-cell-types --methods cvae,mmd_z --seeds 0 --csv benchmarks/results/kang_ablation.csv   # stopped after B and CD14+Mono
