python benchmarks/holdout.py --cell-type Dendritic,FCGR3A+Mono,NK --methods cvae --seeds 2 --model-kwargs '{"kl_weight": 0.2}' --suffix _kl0.2 --csv benchmarks/results/kang_kl0.2_cvae_b2.csv
