python benchmarks/holdout.py --all-cell-types --methods scarches,cvae,mean_shift,control --seeds 0 --csv benchmarks/results/kang_b.csv   # interrupted after B and CD14+Mono's scarches row
