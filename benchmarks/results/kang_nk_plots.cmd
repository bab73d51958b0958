python benchmarks/holdout.py --cell-type NK --methods trvae --seeds 0 --plots docs/_static --csv benchmarks/results/kang_nk_plots.csv
