import DyckAnalysis
print("dyck-gen")
