python benchmarks/holdout.py --cell-type B,CD14+Mono,CD4T,CD8T --methods cvae --seeds 2 --model-kwargs '{"kl_weight": 0.2}' --suffix _kl0.2 --csv benchmarks/results/kang_kl0.2_cvae_a2.csv
