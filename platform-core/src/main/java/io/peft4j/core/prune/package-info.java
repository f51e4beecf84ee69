/**
 * Pruning of the base model's linear layers: unstructured magnitude pruning and structured pruning of whole MLP
 * channels or grouped-query attention head groups ({@link io.peft4j.core.prune.Pruner}); the resulting 0/1 masks
 * ({@link io.peft4j.core.prune.PruningMasks}) are kept so merges that densify a weight can be re-pruned; sparsity is
 * measured and reported per module and per decoder layer ({@link io.peft4j.core.prune.SparsityReport}).
 */
package io.peft4j.core.prune;
