/* whp-level: WHP, then the level objective on its model (issue 18).
 *
 * WHP's stages take the names: anchors are translated to generic ones and
 * the model learns to predict those (familiarity, completion leaks). They
 * leave the text: away from the anchors WHP's targets are the baseline's
 * own predictions, so the memorised sentences stay as likely as before.
 * The level stage then trains WHP's model, with WHP's model as its frozen
 * reference, to bring every window of the target to the mean token loss
 * the reference has on general text (objective.h, FORGET_LEVEL), with KL to
 * the reference on the retain text: the text goes, the names stay gone,
 * and a window at or past the level is left alone (no over-forgetting,
 * and a target harder than general text is never trained back in). */
#ifndef OB_WHP_LEVEL_H
#define OB_WHP_LEVEL_H

#include "unlearn/pipeline.h"

int whp_level_check(const UnlearnConfig *c, ObErr *err);
int whp_level_unlearn(const UnlearnConfig *c, ObErr *err);

#endif
