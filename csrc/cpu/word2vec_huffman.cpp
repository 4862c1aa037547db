// word2vec_huffman.cpp — the Huffman tree of hierarchical softmax, built as gensim builds it: a
// binary heap ordered by count alone (Python's heapq, step for step, so equal counts are merged in
// the same order), the two smallest merged V-1 times into inner node V, V+1, ..., the first popped
// on the left (code 0). A word's path runs from the root; its points are the inner nodes on it,
// numbered from 0 (node V+k is point k).
#include <algorithm>
#include <cstdint>
#include <vector>

#include "fastrnn/common.h"
#include "fastrnn/word2vec.h"

namespace fastrnn {
namespace w2v {
namespace {

using Count = unsigned __int128;  // sums of int64 counts, without overflow

struct Item {
  Count count;
  int64_t node;  // < V: a word; V + k: inner node k
};

// heapq's _siftdown: moves heap[pos] up towards start while it is smaller than its parent.
void sift_down(std::vector<Item>& heap, size_t start, size_t pos) {
  const Item item = heap[pos];
  while (pos > start) {
    const size_t parent = (pos - 1) >> 1;
    if (!(item.count < heap[parent].count)) break;
    heap[pos] = heap[parent];
    pos = parent;
  }
  heap[pos] = item;
}

// heapq's _siftup: moves the smaller child up until a leaf, then sifts the item down there.
void sift_up(std::vector<Item>& heap, size_t pos) {
  const size_t end = heap.size(), start = pos;
  const Item item = heap[pos];
  size_t child = 2 * pos + 1;
  while (child < end) {
    if (child + 1 < end && !(heap[child].count < heap[child + 1].count)) ++child;
    heap[pos] = heap[child];
    pos = child;
    child = 2 * pos + 1;
  }
  heap[pos] = item;
  sift_down(heap, start, pos);
}

Item pop(std::vector<Item>& heap) {
  const Item last = heap.back();
  heap.pop_back();
  if (heap.empty()) return last;
  const Item top = heap[0];
  heap[0] = last;
  sift_up(heap, 0);
  return top;
}

}  // namespace

HuffmanTree huffman_tree(const int64_t* counts, int64_t V) {
  if (V < 1) throw Error("huffman_tree: empty vocabulary");
  std::vector<Item> heap(V);
  for (int64_t i = 0; i < V; ++i) {
    if (counts[i] < 0) throw Error("huffman_tree: counts must not be negative");
    heap[i] = {static_cast<Count>(counts[i]), i};
  }
  for (size_t i = heap.size() / 2; i-- > 0;) sift_up(heap, i);  // heapq.heapify
  std::vector<int64_t> left(V - 1), right(V - 1);               // children of inner node k
  for (int64_t k = 0; k + 1 < V; ++k) {
    const Item a = pop(heap), b = pop(heap);
    left[k] = a.node;
    right[k] = b.node;
    heap.push_back({a.count + b.count, V + k});
    sift_down(heap, 0, heap.size() - 1);
  }
  // Each node's depth, parent and side, root (node 2V-2, or word 0 when V = 1) first: parents
  // are numbered after their children, so one pass from the top down visits parents first.
  const int64_t nodes = 2 * V - 1;
  std::vector<int64_t> parent(nodes, -1), depth(nodes, 0);
  std::vector<uint8_t> side(nodes, 0);
  for (int64_t k = V - 2; k >= 0; --k) {
    for (int s = 0; s < 2; ++s) {
      const int64_t child = s == 0 ? left[k] : right[k];
      parent[child] = V + k;
      side[child] = static_cast<uint8_t>(s);
      depth[child] = depth[V + k] + 1;
    }
  }
  HuffmanTree t;
  t.offsets.resize(V + 1);
  t.offsets[0] = 0;
  for (int64_t i = 0; i < V; ++i) {
    t.offsets[i + 1] = t.offsets[i] + depth[i];
    t.max_depth = std::max(t.max_depth, depth[i]);
  }
  t.codes.resize(t.offsets[V]);
  t.points.resize(t.offsets[V]);
  for (int64_t i = 0; i < V; ++i) {  // from the leaf up, written from the end of its path
    int64_t at = t.offsets[i + 1];
    for (int64_t n = i; parent[n] >= 0; n = parent[n]) {
      --at;
      t.codes[at] = side[n];
      t.points[at] = static_cast<int32_t>(parent[n] - V);
    }
  }
  return t;
}

}  // namespace w2v
}  // namespace fastrnn
