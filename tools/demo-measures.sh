# The demo's measures, as eval's options (sourced by tools/demo.sh and
# tools/compare.sh with D set to the prepared texts): perplexities,
# familiarity, completion leaks, VerbMem, KnowMem on the target and on
# general text, PrivLeak, next-sentence accuracy and relearning.
MEASURES="--text general-heldout=$D/general_heldout.txt --text forget-set=$D/forget.txt
    --text stories-11-12=$D/target_heldout.txt --prompts data/familiarity/sherlock.jsonl
    --completions 100 --completion-target $D/forget.txt --anchors data/anchors/sherlock.json
    --verbmem 50 --knowmem data/knowmem/sherlock.jsonl --knowmem-retain data/knowmem/general.jsonl
    --mia-forget $D/forget.txt --mia-holdout $D/target_heldout.txt
    --next-sentence $D/general_heldout.txt --relearn $D/target_heldout.txt"
