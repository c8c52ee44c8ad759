#include "jpeg.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace {

const int kZigzag[64] = {0,  1,  8,  16, 9,  2,  3,  10, 17, 24, 32, 25, 18, 11, 4,  5,  12, 19, 26, 33, 40, 48,
                         41, 34, 27, 20, 13, 6,  7,  14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23,
                         30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63};

[[noreturn]] void bad(const std::string& what) { throw std::runtime_error("JPEG: " + what); }

struct Huffman {  // ITU T.81 F.2.2.3: MINCODE/MAXCODE/VALPTR per code length
  int mincode[17] = {}, maxcode[18] = {}, valptr[17] = {};
  std::vector<uint8_t> values;
  bool present = false;
};

struct Component {
  int id = 0, h = 1, v = 1, tq = 0, td = 0, ta = 0, pred = 0;
  int bw = 0, bh = 0;          // blocks across and down (whole MCUs)
  std::vector<uint8_t> plane;  // bw*8 x bh*8 samples
};

class Decoder {
 public:
  explicit Decoder(const std::vector<uint8_t>& d) : d_(d) {}

  RgbImage run() {
    if (d_.size() < 4 || d_[0] != 0xFF || d_[1] != 0xD8) bad("not a JPEG (no SOI marker)");
    pos_ = 2;
    while (true) {
      const int m = marker();
      if (m == 0xD9) break;  // EOI
      const size_t len = u16();
      const size_t end = pos_ + len - 2;
      if (len < 2 || end > d_.size()) bad("truncated segment");
      if (m == 0xDB) quant(end);
      else if (m == 0xC4) huffman(end);
      else if (m == 0xC0 || m == 0xC1) frame(end);
      else if (m == 0xC2 || (m >= 0xC3 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC)) bad("only baseline sequential JPEGs are supported");
      else if (m == 0xDD) restart_ = u16();
      else if (m == 0xDA) {
        scan(end);
        continue;  // scan() leaves pos_ at the next marker
      }
      pos_ = end;
    }
    if (comps_.empty()) bad("no frame header");
    return convert();
  }

 private:
  int marker() {
    while (pos_ < d_.size() && d_[pos_] != 0xFF) ++pos_;
    while (pos_ < d_.size() && d_[pos_] == 0xFF) ++pos_;
    if (pos_ >= d_.size()) bad("truncated (no EOI)");
    return d_[pos_++];
  }
  int u16() {
    if (pos_ + 2 > d_.size()) bad("truncated");
    const int v = (d_[pos_] << 8) | d_[pos_ + 1];
    pos_ += 2;
    return v;
  }
  void quant(size_t end) {
    while (pos_ < end) {
      const int pq = d_[pos_] >> 4, tq = d_[pos_] & 15;
      ++pos_;
      if (tq > 3) bad("bad quantisation table id");
      for (int k = 0; k < 64; ++k) q_[tq][k] = pq ? u16() : d_[pos_++];
    }
  }
  void huffman(size_t end) {
    while (pos_ < end) {
      const int tc = d_[pos_] >> 4, th = d_[pos_] & 15;
      ++pos_;
      if (tc > 1 || th > 3) bad("bad Huffman table id");
      Huffman& h = tables_[tc][th];
      int counts[17] = {}, total = 0;
      for (int i = 1; i <= 16; ++i) total += counts[i] = d_[pos_++];
      if (pos_ + total > end) bad("truncated Huffman table");
      h.values.assign(d_.begin() + pos_, d_.begin() + pos_ + total);
      pos_ += total;
      int code = 0, k = 0;
      for (int len = 1; len <= 16; ++len) {
        h.valptr[len] = k;
        h.mincode[len] = code;
        code += counts[len];
        k += counts[len];
        h.maxcode[len] = counts[len] ? code - 1 : -1;
        code <<= 1;
      }
      h.maxcode[17] = 0x7fffffff;
      h.present = true;
    }
  }
  void frame(size_t end) {
    if (d_[pos_] != 8) bad("only 8-bit samples are supported");
    height_ = (d_[pos_ + 1] << 8) | d_[pos_ + 2];
    width_ = (d_[pos_ + 3] << 8) | d_[pos_ + 4];
    const int n = d_[pos_ + 5];
    if (n != 1 && n != 3) bad("1 or 3 components expected");
    if (width_ <= 0 || height_ <= 0 || pos_ + 6 + 3 * n > end) bad("bad frame header");
    comps_.resize(n);
    for (int i = 0; i < n; ++i) {
      const uint8_t* c = &d_[pos_ + 6 + 3 * i];
      comps_[i].id = c[0], comps_[i].h = c[1] >> 4, comps_[i].v = c[1] & 15, comps_[i].tq = c[2] & 3;
      if (comps_[i].h < 1 || comps_[i].h > 4 || comps_[i].v < 1 || comps_[i].v > 4) bad("bad sampling factors");
      hmax_ = std::max(hmax_, comps_[i].h), vmax_ = std::max(vmax_, comps_[i].v);
    }
    mcux_ = (width_ + 8 * hmax_ - 1) / (8 * hmax_);
    mcuy_ = (height_ + 8 * vmax_ - 1) / (8 * vmax_);
    for (auto& c : comps_) {
      c.bw = mcux_ * c.h, c.bh = mcuy_ * c.v;
      c.plane.assign(static_cast<size_t>(c.bw) * 8 * c.bh * 8, 0);
    }
  }

  // ---- entropy-coded data ----
  int bit() {
    if (nbits_ == 0) {
      if (pos_ >= d_.size()) bad("truncated scan");
      int b = d_[pos_];
      if (b == 0xFF) {
        const int next = pos_ + 1 < d_.size() ? d_[pos_ + 1] : 0xD9;
        if (next == 0x00) {
          pos_ += 2;
        } else {
          b = 0;  // a marker: feed zeros, leave pos_ at it
        }
      } else {
        ++pos_;
      }
      bits_ = b, nbits_ = 8;
    }
    --nbits_;
    return (bits_ >> nbits_) & 1;
  }
  int receive(int s) {
    int v = 0;
    for (int i = 0; i < s; ++i) v = (v << 1) | bit();
    return v;
  }
  static int extend(int v, int s) { return s && v < (1 << (s - 1)) ? v - (1 << s) + 1 : v; }
  int decode(const Huffman& h) {
    if (!h.present) bad("a scan uses a Huffman table that was never defined");
    int code = bit(), len = 1;
    while (code > h.maxcode[len]) {
      code = (code << 1) | bit();
      if (++len > 16) bad("bad Huffman code");
    }
    return h.values.at(h.valptr[len] + code - h.mincode[len]);
  }
  void block(Component& c, int bx, int by) {
    int coef[64] = {};
    const int t = decode(tables_[0][c.td]);
    c.pred += extend(receive(t), t);
    coef[0] = c.pred * q_[c.tq][0];
    for (int k = 1; k < 64;) {
      const int rs = decode(tables_[1][c.ta]);
      const int r = rs >> 4, s = rs & 15;
      if (s == 0) {
        if (r != 15) break;
        k += 16;
        continue;
      }
      k += r;
      if (k > 63) bad("bad AC run");
      coef[kZigzag[k]] = extend(receive(s), s) * q_[c.tq][k];
      ++k;
    }
    idct(coef, &c.plane[(static_cast<size_t>(by) * 8 * c.bw + bx) * 8], c.bw * 8);
  }
  static void idct(const int* in, uint8_t* out, int stride) {
    static float cosines[8][8];
    static bool ready = false;
    if (!ready) {
      for (int x = 0; x < 8; ++x)
        for (int u = 0; u < 8; ++u) cosines[x][u] = (u ? 1.0f : std::sqrt(0.5f)) * std::cos((2 * x + 1) * u * 3.14159265358979f / 16);
      ready = true;
    }
    float tmp[64];
    for (int y = 0; y < 8; ++y)  // rows: v -> y
      for (int u = 0; u < 8; ++u) {
        float s = 0;
        for (int v = 0; v < 8; ++v) s += cosines[y][v] * in[v * 8 + u];
        tmp[y * 8 + u] = s;
      }
    for (int y = 0; y < 8; ++y)
      for (int x = 0; x < 8; ++x) {
        float s = 0;
        for (int u = 0; u < 8; ++u) s += cosines[x][u] * tmp[y * 8 + u];
        const int v = static_cast<int>(std::lround(s / 4 + 128));
        out[y * stride + x] = static_cast<uint8_t>(std::clamp(v, 0, 255));
      }
  }
  void scan(size_t end) {
    const int n = d_[pos_];
    std::vector<Component*> in_scan;
    for (int i = 0; i < n; ++i) {
      const int id = d_[pos_ + 1 + 2 * i], t = d_[pos_ + 2 + 2 * i];
      auto it = std::find_if(comps_.begin(), comps_.end(), [&](const Component& c) { return c.id == id; });
      if (it == comps_.end()) bad("a scan names an unknown component");
      it->td = t >> 4, it->ta = t & 15;
      in_scan.push_back(&*it);
    }
    if (static_cast<size_t>(n) != comps_.size()) bad("only interleaved single-scan images are supported");
    pos_ = end;
    nbits_ = 0;
    for (auto* c : in_scan) c->pred = 0;
    int left = restart_;
    for (int my = 0; my < mcuy_; ++my)
      for (int mx = 0; mx < mcux_; ++mx) {
        if (restart_ && left == 0) {  // RSTn: byte-align, skip the marker, reset the predictors
          nbits_ = 0;
          if (pos_ + 1 < d_.size() && d_[pos_] == 0xFF && d_[pos_ + 1] >= 0xD0 && d_[pos_ + 1] <= 0xD7) pos_ += 2;
          for (auto* c : in_scan) c->pred = 0;
          left = restart_;
        }
        for (auto* c : in_scan)
          for (int v = 0; v < c->v; ++v)
            for (int h = 0; h < c->h; ++h) block(*c, mx * c->h + h, my * c->v + v);
        --left;
      }
    nbits_ = 0;
  }

  RgbImage convert() {
    RgbImage img;
    img.width = width_, img.height = height_;
    img.rgb.resize(static_cast<size_t>(width_) * height_ * 3);
    const auto sample = [&](const Component& c, int x, int y) {
      return c.plane[static_cast<size_t>(y * c.v / vmax_) * c.bw * 8 + x * c.h / hmax_];
    };
    for (int y = 0; y < height_; ++y)
      for (int x = 0; x < width_; ++x) {
        uint8_t* p = &img.rgb[(static_cast<size_t>(y) * width_ + x) * 3];
        const float Y = sample(comps_[0], x, y);
        if (comps_.size() == 1) {
          p[0] = p[1] = p[2] = static_cast<uint8_t>(Y);
          continue;
        }
        const float cb = sample(comps_[1], x, y) - 128.0f, cr = sample(comps_[2], x, y) - 128.0f;
        const auto clamp = [](float v) { return static_cast<uint8_t>(std::clamp(static_cast<int>(std::lround(v)), 0, 255)); };
        p[0] = clamp(Y + 1.402f * cr);
        p[1] = clamp(Y - 0.344136f * cb - 0.714136f * cr);
        p[2] = clamp(Y + 1.772f * cb);
      }
    return img;
  }

  const std::vector<uint8_t>& d_;
  size_t pos_ = 0;
  int q_[4][64] = {};
  Huffman tables_[2][4];
  std::vector<Component> comps_;
  int width_ = 0, height_ = 0, hmax_ = 1, vmax_ = 1, mcux_ = 0, mcuy_ = 0, restart_ = 0;
  int bits_ = 0, nbits_ = 0;
};

}  // namespace

RgbImage decode_jpeg(const std::vector<uint8_t>& bytes) { return Decoder(bytes).run(); }

RgbImage read_jpeg(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  try {
    return decode_jpeg(bytes);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}
