"""ECS as the runbooks share it: service state, task definitions, images, rollouts."""
