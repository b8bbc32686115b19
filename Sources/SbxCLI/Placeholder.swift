import DyckModel
