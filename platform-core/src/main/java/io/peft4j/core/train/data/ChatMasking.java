package io.peft4j.core.train.data;

import io.peft4j.core.chat.ChatMessage;
import io.peft4j.core.chat.ChatTemplate;
import io.peft4j.core.model.TokenizedText;
import java.util.ArrayList;
import java.util.List;

/**
 * Renders a conversation with its chat template and marks which tokens carry loss.
 *
 * <p>With {@code assistantOnly}, the labelled text of assistant turn {@code i} is what the template adds for it:
 * the difference between rendering the first {@code i} messages with the generation prompt and the first
 * {@code i + 1} without it (the turn's content and the template's end-of-turn text, such as {@code <|eot_id|>} or
 * {@code <|im_end|>}: the model learns to stop). This is the prefix construction axolotl and LLaMA-Factory use; it
 * needs both renderings to be prefixes of the full conversation. Templates that rewrite earlier turns as the
 * conversation grows (Mistral's puts the system prompt into the last user turn) fail that test; their assistant
 * spans are then found by locating each turn's content in order (plus a directly following {@code eos_token}).
 * A token carries loss when its text overlaps a labelled span (so a token that begins in the generation prompt and
 * ends in the turn, such as SentencePiece's {@code "▁Once"} after {@code "Assistant:"}, is learned, as transformers'
 * {@code char_to_token} assistant masks have it). The whole rendering is labelled without
 * {@code assistantOnly}.
 */
public final class ChatMasking {
    private ChatMasking() {
    }

    /** Ids and labels of a conversation; the rendered text and labelled character spans for previews. */
    public record Masked(long[] ids, long[] labels, String text, List<int[]> spans) {
    }

    public static Masked encode(ChatTemplate template, List<ChatMessage> messages, Tokenization tok,
                                boolean assistantOnly) {
        String full = template.render(messages, false);
        List<int[]> spans = assistantOnly ? assistantSpans(template, messages, full) : List.of(new int[] {0,
                full.length()});
        TokenizedText t = tok.encodeWithOffsets(full);
        long[] labels = new long[t.ids().length];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = overlaps(spans, t.starts()[i], t.ends()[i]) ? t.ids()[i] : Example.IGNORE_INDEX;
        }
        return new Masked(t.ids(), labels, full, spans);
    }

    /**
     * Whether token text [start, end) overlaps a labelled span; a token that straddles the start of a turn
     * (SentencePiece's "▁Once" after "Assistant:") is the turn's first token. Zero-width tokens count by position.
     */
    private static boolean overlaps(List<int[]> spans, int start, int end) {
        for (int[] s : spans) {
            if (end > start ? start < s[1] && end > s[0] : start >= s[0] && start < s[1]) {
                return true;
            }
        }
        return false;
    }

    /** Character spans of the assistant turns in {@code full}. */
    static List<int[]> assistantSpans(ChatTemplate template, List<ChatMessage> messages, String full) {
        List<int[]> spans = new ArrayList<>();
        boolean prefixesHold = true;
        for (int i = 0; i < messages.size() && prefixesHold; i++) {
            if (!"assistant".equals(messages.get(i).role())) {
                continue;
            }
            String before = template.render(messages.subList(0, i), true);
            String with = template.render(messages.subList(0, i + 1), false);
            if (with.startsWith(before) && full.startsWith(with) && with.length() > before.length()) {
                spans.add(new int[] {before.length(), with.length()});
            } else {
                prefixesHold = false;
            }
        }
        return prefixesHold ? spans : locatedSpans(template, messages, full);
    }

    /** Fallback: each turn's content found in order; an assistant span extends over a following eos_token. */
    private static List<int[]> locatedSpans(ChatTemplate template, List<ChatMessage> messages, String full) {
        List<int[]> spans = new ArrayList<>();
        String eos = template.eosToken();
        int cursor = 0;
        for (int i = 0; i < messages.size(); i++) {
            ChatMessage m = messages.get(i);
            String content = m.content();
            int at = content.isEmpty() ? cursor : full.indexOf(content, cursor);
            if (at < 0 && !content.strip().isEmpty()) {
                content = content.strip();   // templates often trim turns
                at = full.indexOf(content, cursor);
            }
            if (at < 0) {
                if ("assistant".equals(m.role())) {
                    throw new DatasetException("cannot find assistant turn " + i + " in the text the chat template "
                            + "rendered, so its loss mask is unknown; set data.assistant_only_loss: false to train on "
                            + "every token");
                }
                continue;   // a turn the template drops or rewrites (e.g. a system prompt moved elsewhere)
            }
            int end = at + content.length();
            if ("assistant".equals(m.role())) {
                if (eos != null && full.startsWith(eos, end)) {
                    end += eos.length();
                }
                spans.add(new int[] {at, end});
            }
            cursor = end;
        }
        return spans;
    }
}
