python benchmarks/holdout.py --all-cell-types --methods cvae --seeds 3,4 --model-kwargs '{"kl_weight": 0.2}' --suffix _kl0.2 --csv benchmarks/results/kang_kl0.2_cvae_b.csv
