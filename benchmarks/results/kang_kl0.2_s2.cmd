python benchmarks/holdout.py --all-cell-types --methods trvae,mmd_z --seeds 2 --model-kwargs '{"kl_weight": 0.2}' --suffix _kl0.2 --csv benchmarks/results/kang_kl0.2_s2.csv
