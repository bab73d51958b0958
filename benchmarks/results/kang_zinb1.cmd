python benchmarks/holdout.py --cell-type B,CD14+Mono,CD4T,CD8T --methods trvae --likelihood zinb --seeds 0 --csv benchmarks/results/kang_zinb1.csv   # stopped after B
