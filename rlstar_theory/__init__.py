"""rlstar_theory: exact theory, proofs and experiments for RL-STaR."""
