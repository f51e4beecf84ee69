/**
 * Chat templates: a model's {@code tokenizer_config.json} {@code chat_template} rendered as transformers'
 * {@code apply_chat_template} renders it ({@link io.peft4j.core.chat.ChatTemplate}), for chat training data and chat
 * serving.
 */
package io.peft4j.core.chat;
