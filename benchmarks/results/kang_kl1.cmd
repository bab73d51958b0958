python benchmarks/holdout.py --all-cell-types --methods trvae,mmd_z --seeds 0 --model-kwargs '{"kl_weight": 1.0}' --suffix _kl1 --csv benchmarks/results/kang_kl1.csv
