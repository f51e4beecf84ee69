package io.peft4j.core.train.data;

/**
 * The prompt of an {@code alpaca} row: {@code {instruction}} and {@code {input}} are replaced by the row's fields; the
 * row's {@code output} is the completion (the only tokens with loss).
 *
 * @param promptInput   the prompt when the row has a non-empty {@code input}
 * @param promptNoInput the prompt when it has none
 */
public record AlpacaTemplate(String promptInput, String promptNoInput) {
    /** The prompts of Stanford Alpaca's {@code train.py} ({@code PROMPT_DICT}). */
    public static final AlpacaTemplate STANFORD = new AlpacaTemplate(
            "Below is an instruction that describes a task, paired with an input that provides further context. "
                    + "Write a response that appropriately completes the request.\n\n"
                    + "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n",
            "Below is an instruction that describes a task. "
                    + "Write a response that appropriately completes the request.\n\n"
                    + "### Instruction:\n{instruction}\n\n### Response:\n");

    public AlpacaTemplate {
        promptInput = promptInput == null ? STANFORD.promptInput : promptInput;
        promptNoInput = promptNoInput == null ? STANFORD.promptNoInput : promptNoInput;
    }

    /** The prompt for one row. */
    public String prompt(String instruction, String input) {
        boolean hasInput = input != null && !input.isEmpty();
        // replace {input} first would also touch an instruction that contains "{input}"; fill both in one pass
        String t = hasInput ? promptInput : promptNoInput;
        StringBuilder out = new StringBuilder();
        int i = 0;
        while (i < t.length()) {
            if (t.startsWith("{instruction}", i)) {
                out.append(instruction);
                i += "{instruction}".length();
            } else if (t.startsWith("{input}", i)) {
                out.append(hasInput ? input : "");
                i += "{input}".length();
            } else {
                out.append(t.charAt(i++));
            }
        }
        return out.toString();
    }
}
