python benchmarks/holdout.py --all-cell-types --methods trvae,mmd_z --seeds 0 --model-kwargs '{"kl_weight": 0.3}' --suffix _kl0.3 --csv benchmarks/results/kang_kl0.3.csv
