package io.peft4j.plugins.adalora;

/**
 * AdaLoRA's cubic rank-budget schedule (PEFT {@code RankAllocator.budget_schedule}) and what
 * {@code AdaLoraModel.update_and_allocate(step)} does at each step. A pure function of the step:
 * <pre>
 *   step &lt;= tinit                 → budget = init_bgt,   mask_ind = false
 *   step &gt;  total_step - tfinal    → budget = target_bgt, mask_ind = true
 *   otherwise   mul = 1 - (step - tinit) / (total_step - tfinal - tinit)
 *               budget = (int) ((init_bgt - target_bgt) · mul³ + target_bgt)      (truncation toward 0)
 *               mask_ind = step % deltaT == 0
 * </pre>
 * Actions: below {@code total_step - tfinal} the importance is updated and, when {@code mask_ind}, the budget
 * applied; at exactly {@code total_step - tfinal} the target budget is forced, the pattern stored and the importance
 * state reset; after it the stored pattern is re-applied every step.
 *
 * @param initBgt   sum of the initial ranks of all adapted modules
 * @param targetBgt {@code target_r ×} number of adapted modules
 */
public record BudgetSchedule(int initBgt, int targetBgt, int tinit, int tfinal, int totalStep, int deltaT) {

    /** What happens at one step. */
    public enum Action {
        UPDATE_IPT("update_ipt"),
        UPDATE_IPT_AND_MASK("update_ipt+mask_to_budget"),
        FINAL_MASK("final_mask_to_budget+store_rank_pattern+reset_ipt"),
        MASK_USING_PATTERN("mask_using_rank_pattern");

        private final String label;

        Action(String label) {
            this.label = label;
        }

        /** The name used in the golden vectors ({@code adalora_budget_schedule}). */
        public String label() {
            return label;
        }
    }

    /** The schedule's values at one step. */
    public record Decision(int step, int budget, boolean maskInd, Action action) {
    }

    public BudgetSchedule {
        if (deltaT <= 0 || totalStep <= 0 || tinit < 0 || tfinal < 0 || tinit >= totalStep - tfinal) {
            throw new IllegalArgumentException("invalid AdaLoRA schedule: tinit=" + tinit + " tfinal=" + tfinal
                    + " total_step=" + totalStep + " deltaT=" + deltaT);
        }
    }

    /** The step at which the final allocation is forced: {@code total_step - tfinal}. */
    public int finalStep() {
        return totalStep - tfinal;
    }

    public Decision at(int step) {
        int budget;
        boolean maskInd;
        if (step <= tinit) {
            budget = initBgt;
            maskInd = false;
        } else if (step > totalStep - tfinal) {
            budget = targetBgt;
            maskInd = true;
        } else {
            // Python float arithmetic: true division, then ** 3, then int() truncation.
            double mul = 1.0 - (double) (step - tinit) / (double) (totalStep - tfinal - tinit);
            budget = (int) ((initBgt - targetBgt) * Math.pow(mul, 3) + targetBgt);
            maskInd = step % deltaT == 0;
        }
        Action action;
        if (step < finalStep()) {
            action = maskInd ? Action.UPDATE_IPT_AND_MASK : Action.UPDATE_IPT;
        } else if (step == finalStep()) {
            action = Action.FINAL_MASK;
        } else {
            action = Action.MASK_USING_PATTERN;
        }
        return new Decision(step, budget, maskInd, action);
    }
}
