"""Stateful GUI screens (apps), the environment an agent acts in (env), tasks with checkable goals and
their oracle (tasks), and episodes: oracle trajectories for training, model episodes for evaluation
(episode)."""
