python benchmarks/holdout.py --cell-type Dendritic,CD14+Mono --methods trvae,mmd_z --seeds 0 --model-kwargs '{"n_hidden": 256}' --suffix _h256 --csv benchmarks/results/kang_h256.csv
