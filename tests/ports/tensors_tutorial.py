import numpy as np
import torch

# The tensors tutorial's tour: creation, attributes, indexing, joining, arithmetic, in-place ops, broadcasting and
# the NumPy bridge. Every value printed is fixed (no random numbers are printed), so both runs print the same.

data = [[1, 2], [3, 4]]
x_data = torch.tensor(data)
print(x_data)

np_array = np.array(data)
x_np = torch.from_numpy(np_array)
print(x_np)

x_ones = torch.ones_like(x_data)
print(f"Ones Tensor: \n {x_ones} \n")
x_rand = torch.rand_like(x_data, dtype=torch.float)
print(f"Random Tensor shape: {tuple(x_rand.shape)}, all in [0, 1): {bool(((x_rand >= 0) & (x_rand < 1)).all())}\n")

shape = (2, 3,)
rand_tensor = torch.rand(shape)
ones_tensor = torch.ones(shape)
zeros_tensor = torch.zeros(shape)
print(f"Ones Tensor: \n {ones_tensor} \n")
print(f"Zeros Tensor: \n {zeros_tensor}")

tensor = torch.rand(3, 4)
print(f"Shape of tensor: {tensor.shape}")
print(f"Datatype of tensor: {tensor.dtype}")
print(f"Device tensor is stored on: {tensor.device}")

if torch.accelerator.is_available():
    tensor = tensor.to(torch.accelerator.current_accelerator())

tensor = torch.ones(4, 4)
print(f"First row: {tensor[0]}")
print(f"First column: {tensor[:, 0]}")
print(f"Last column: {tensor[..., -1]}")
tensor[:, 1] = 0
print(tensor)

t1 = torch.cat([tensor, tensor, tensor], dim=1)
print(t1)
print(torch.stack([tensor[0], tensor[1]]).shape == (2, 4))

tensor = torch.arange(16, dtype=torch.float32).reshape(4, 4)
y1 = tensor @ tensor.T
y2 = tensor.matmul(tensor.T)
y3 = torch.rand_like(y1)
torch.matmul(tensor, tensor.T, out=y3)
print(y1)
print(torch.equal(y1, y2), torch.equal(y1, y3))

z1 = tensor * tensor
z2 = tensor.mul(tensor)
z3 = torch.rand_like(tensor)
torch.mul(tensor, tensor, out=z3)
print(z1)
print(torch.equal(z1, z2), torch.equal(z1, z3))

agg = tensor.sum()
agg_item = agg.item()
print(agg_item, type(agg_item))

print(f"{tensor} \n")
tensor.add_(5)
print(tensor)
tensor.mul_(0.5).sub_(1)
print(tensor)

# broadcasting: a column against a row, and a batch of matrices against one vector
col = torch.arange(3).reshape(3, 1)
row = torch.arange(4)
print(col + row)
print((col * 10 - row).shape)
batch = torch.ones(2, 3, 4)
print((batch * torch.tensor([1.0, 2.0, 3.0, 4.0])).sum(dim=(0, 1)))
print(torch.where(row > 1, row, -row))

# reshaping views and indexing
m = torch.arange(12).view(3, 4)
print(m[1:, ::2])
print(m[m % 3 == 0])
print(m[[0, 2], [1, 3]])
print(m.t().contiguous().view(-1))
print(m.unsqueeze(0).shape, m.flatten().shape, m.permute(1, 0).shape)
print(m.float().mean(dim=0), m.float().std(dim=1))
print(m.max(), m.argmax(), m.max(dim=1).values, m.max(dim=1).indices)

# the NumPy bridge: memory is shared both ways
t = torch.ones(5)
print(f"t: {t}")
n = t.numpy()
print(f"n: {n}")
t.add_(1)
print(f"t: {t}")
print(f"n: {n}")

n = np.ones(5)
t = torch.from_numpy(n)
np.add(n, 1, out=n)
print(f"t: {t}")
print(f"n: {n}")
print(t.tolist(), torch.tensor(3.5).item(), torch.zeros(2, dtype=torch.int64).dtype == torch.long)
