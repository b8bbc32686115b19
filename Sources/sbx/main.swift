import DyckModel
print("sbx")
