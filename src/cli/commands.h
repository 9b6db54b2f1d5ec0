/* Each command: argc/argv start after the command's name; returns the exit
 * status (0 ok, 1 failure, 2 usage error). */
#ifndef OB_COMMANDS_H
#define OB_COMMANDS_H

int cmd_tokenizer(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_anchors(int argc, char **argv);
int cmd_labels(int argc, char **argv);
int cmd_reinforce(int argc, char **argv);
int cmd_unlearn(int argc, char **argv);
int cmd_prepare(int argc, char **argv);
int cmd_import_hf(int argc, char **argv);
int cmd_export_hf(int argc, char **argv);

#endif
