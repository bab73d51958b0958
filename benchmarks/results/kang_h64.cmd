python benchmarks/holdout.py --cell-type Dendritic,CD14+Mono --methods trvae,mmd_z --seeds 0 --model-kwargs '{"n_hidden": 64}' --suffix _h64 --csv benchmarks/results/kang_h64.csv
