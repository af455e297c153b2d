/* dists.c - the fixed contents of TPC-H (clause 4.2.2.13 and 4.2.3): regions, nations, the
 * word lists of part names, types, containers, segments, priorities, shipping instructions
 * and modes, and the text grammar's words with dbgen's weights. */
#include "tpch/internal.h"

#define W(str, weight)                                                                             \
    {                                                                                              \
        str, (uint8_t)(sizeof str - 1), weight                                                     \
    }
#define DIST(name, arr) const tpch_dist name = {arr, (uint32_t)(sizeof arr / sizeof arr[0])}

const char *const tpch_region_names[TPCH_NREGIONS] = {"AFRICA", "AMERICA", "ASIA", "EUROPE",
                                                      "MIDDLE EAST"};

const char *const tpch_nation_names[TPCH_NNATIONS] = {
    "ALGERIA", "ARGENTINA", "BRAZIL",         "CANADA",       "EGYPT", "ETHIOPIA", "FRANCE",
    "GERMANY", "INDIA",     "INDONESIA",      "IRAN",         "IRAQ",  "JAPAN",    "JORDAN",
    "KENYA",   "MOROCCO",   "MOZAMBIQUE",     "PERU",         "CHINA", "ROMANIA",  "SAUDI ARABIA",
    "VIETNAM", "RUSSIA",    "UNITED KINGDOM", "UNITED STATES"};

const uint8_t tpch_nation_region[TPCH_NNATIONS] = {0, 1, 1, 1, 4, 0, 3, 3, 2, 2, 4, 4, 2,
                                                   4, 0, 0, 0, 1, 2, 3, 4, 2, 3, 3, 1};

/* P_NAME words (92 colours). */
static const tpch_word colors[] = {
    W("almond", 1),    W("antique", 1),   W("aquamarine", 1), W("azure", 1),      W("beige", 1),
    W("bisque", 1),    W("black", 1),     W("blanched", 1),   W("blue", 1),       W("blush", 1),
    W("brown", 1),     W("burlywood", 1), W("burnished", 1),  W("chartreuse", 1), W("chiffon", 1),
    W("chocolate", 1), W("coral", 1),     W("cornflower", 1), W("cornsilk", 1),   W("cream", 1),
    W("cyan", 1),      W("dark", 1),      W("deep", 1),       W("dim", 1),        W("dodger", 1),
    W("drab", 1),      W("firebrick", 1), W("floral", 1),     W("forest", 1),     W("frosted", 1),
    W("gainsboro", 1), W("ghost", 1),     W("goldenrod", 1),  W("green", 1),      W("grey", 1),
    W("honeydew", 1),  W("hot", 1),       W("indian", 1),     W("ivory", 1),      W("khaki", 1),
    W("lace", 1),      W("lavender", 1),  W("lawn", 1),       W("lemon", 1),      W("light", 1),
    W("lime", 1),      W("linen", 1),     W("magenta", 1),    W("maroon", 1),     W("medium", 1),
    W("metallic", 1),  W("midnight", 1),  W("mint", 1),       W("misty", 1),      W("moccasin", 1),
    W("navajo", 1),    W("navy", 1),      W("olive", 1),      W("orange", 1),     W("orchid", 1),
    W("pale", 1),      W("papaya", 1),    W("peach", 1),      W("peru", 1),       W("pink", 1),
    W("plum", 1),      W("powder", 1),    W("puff", 1),       W("purple", 1),     W("red", 1),
    W("rose", 1),      W("rosy", 1),      W("royal", 1),      W("saddle", 1),     W("salmon", 1),
    W("sandy", 1),     W("seashell", 1),  W("sienna", 1),     W("sky", 1),        W("slate", 1),
    W("smoke", 1),     W("snow", 1),      W("spring", 1),     W("steel", 1),      W("tan", 1),
    W("thistle", 1),   W("tomato", 1),    W("turquoise", 1),  W("violet", 1),     W("wheat", 1),
    W("white", 1),     W("yellow", 1)};
_Static_assert(sizeof colors / sizeof colors[0] == 92, "TPC-H has 92 part-name words");
DIST(tpch_colors, colors);

/* P_TYPE: one word of each syllable list (150 types). */
static const tpch_word type1[] = {W("STANDARD", 1), W("SMALL", 1),   W("MEDIUM", 1),
                                  W("LARGE", 1),    W("ECONOMY", 1), W("PROMO", 1)};
static const tpch_word type2[] = {W("ANODIZED", 1), W("BURNISHED", 1), W("PLATED", 1),
                                  W("POLISHED", 1), W("BRUSHED", 1)};
static const tpch_word type3[] = {W("TIN", 1), W("NICKEL", 1), W("BRASS", 1), W("STEEL", 1),
                                  W("COPPER", 1)};
DIST(tpch_type1, type1);
DIST(tpch_type2, type2);
DIST(tpch_type3, type3);

/* P_CONTAINER: 40 containers. */
static const tpch_word cont1[] = {W("SM", 1), W("LG", 1), W("MED", 1), W("JUMBO", 1), W("WRAP", 1)};
static const tpch_word cont2[] = {W("CASE", 1), W("BOX", 1),  W("BAG", 1), W("JAR", 1),
                                  W("PKG", 1),  W("PACK", 1), W("CAN", 1), W("DRUM", 1)};
DIST(tpch_cont1, cont1);
DIST(tpch_cont2, cont2);

static const tpch_word segments[] = {W("AUTOMOBILE", 1), W("BUILDING", 1), W("FURNITURE", 1),
                                     W("MACHINERY", 1), W("HOUSEHOLD", 1)};
static const tpch_word priorities[] = {W("1-URGENT", 1), W("2-HIGH", 1), W("3-MEDIUM", 1),
                                       W("4-NOT SPECIFIED", 1), W("5-LOW", 1)};
static const tpch_word instructions[] = {W("DELIVER IN PERSON", 1), W("COLLECT COD", 1),
                                         W("NONE", 1), W("TAKE BACK RETURN", 1)};
static const tpch_word modes[] = {W("REG AIR", 1), W("AIR", 1),  W("RAIL", 1), W("SHIP", 1),
                                  W("TRUCK", 1),   W("MAIL", 1), W("FOB", 1)};
DIST(tpch_segments, segments);
DIST(tpch_priorities, priorities);
DIST(tpch_instructions, instructions);
DIST(tpch_modes, modes);

/* ---- the text grammar's words (clause 4.2.2.13, weights as in dbgen's dists.dss) ---------- */

static const tpch_word nouns[] = {
    W("foxes", 40),         W("ideas", 40),        W("theodolites", 40), W("pinto beans", 40),
    W("instructions", 40),  W("dependencies", 40), W("excuses", 40),     W("platelets", 40),
    W("asymptotes", 40),    W("courts", 40),       W("dolphins", 40),    W("multipliers", 1),
    W("sauternes", 1),      W("warthogs", 1),      W("frets", 1),        W("dinos", 1),
    W("attainments", 1),    W("somas", 1),         W("Tiresias", 1),     W("patterns", 1),
    W("forges", 1),         W("braids", 1),        W("frays", 1),        W("warhorses", 1),
    W("dugouts", 1),        W("notornis", 1),      W("epitaphs", 1),     W("pearls", 1),
    W("tithes", 1),         W("waters", 1),        W("orbits", 1),       W("gifts", 1),
    W("sheaves", 1),        W("depths", 1),        W("sentiments", 1),   W("decoys", 1),
    W("realms", 1),         W("pains", 1),         W("grouches", 1),     W("escapades", 1),
    W("hockey players", 1), W("packages", 40),     W("requests", 40),    W("accounts", 40),
    W("deposits", 40)};
static const tpch_word verbs[] = {
    W("sleep", 20),    W("wake", 20),    W("are", 20),   W("cajole", 20), W("haggle", 20),
    W("nag", 10),      W("use", 10),     W("boost", 10), W("affix", 5),   W("detect", 5),
    W("integrate", 5), W("maintain", 1), W("nod", 1),    W("was", 1),     W("lose", 1),
    W("sublate", 1),   W("solve", 1),    W("thrash", 1), W("promise", 1), W("engage", 1),
    W("hinder", 1),    W("print", 1),    W("x-ray", 1),  W("breach", 1),  W("eat", 1),
    W("grow", 1),      W("impress", 1),  W("mold", 1),   W("poach", 1),   W("serve", 1),
    W("run", 1),       W("dazzle", 1),   W("snooze", 1), W("doze", 1),    W("unwind", 1),
    W("kindle", 1),    W("play", 1),     W("hang", 1),   W("believe", 1), W("doubt", 1)};
static const tpch_word adjectives[] = {
    W("furious", 1),   W("sly", 1),      W("careful", 1),  W("blithe", 1),   W("quick", 1),
    W("fluffy", 1),    W("slow", 1),     W("quiet", 1),    W("ruthless", 1), W("thin", 1),
    W("close", 1),     W("dogged", 1),   W("daring", 1),   W("brave", 1),    W("stealthy", 1),
    W("permanent", 1), W("enticing", 1), W("idle", 1),     W("busy", 1),     W("regular", 50),
    W("final", 40),    W("ironic", 40),  W("even", 30),    W("bold", 20),    W("silent", 10),
    W("special", 20),  W("pending", 20), W("unusual", 20), W("express", 20)};
static const tpch_word adverbs[] = {
    W("sometimes", 1),  W("always", 1),     W("never", 1),       W("furiously", 50),
    W("slyly", 50),     W("carefully", 50), W("blithely", 40),   W("quickly", 30),
    W("fluffily", 20),  W("slowly", 1),     W("quietly", 1),     W("ruthlessly", 1),
    W("thinly", 1),     W("closely", 1),    W("doggedly", 1),    W("daringly", 1),
    W("bravely", 1),    W("stealthily", 1), W("permanently", 1), W("enticingly", 1),
    W("idly", 1),       W("busily", 1),     W("regularly", 1),   W("finally", 1),
    W("ironically", 1), W("evenly", 1),     W("boldly", 1),      W("silently", 1)};
static const tpch_word prepositions[] = {W("about", 50),
                                         W("above", 50),
                                         W("according to", 50),
                                         W("across", 50),
                                         W("after", 50),
                                         W("against", 40),
                                         W("along", 40),
                                         W("alongside of", 30),
                                         W("among", 30),
                                         W("around", 20),
                                         W("at", 10),
                                         W("atop", 1),
                                         W("before", 1),
                                         W("behind", 1),
                                         W("beneath", 1),
                                         W("beside", 1),
                                         W("besides", 1),
                                         W("between", 1),
                                         W("beyond", 1),
                                         W("by", 1),
                                         W("despite", 1),
                                         W("during", 1),
                                         W("except", 1),
                                         W("for", 1),
                                         W("from", 1),
                                         W("in place of", 1),
                                         W("inside", 1),
                                         W("instead of", 1),
                                         W("into", 1),
                                         W("near", 1),
                                         W("of", 1),
                                         W("on", 1),
                                         W("outside", 1),
                                         W("over", 1),
                                         W("past", 1),
                                         W("since", 1),
                                         W("through", 1),
                                         W("throughout", 1),
                                         W("to", 1),
                                         W("toward", 1),
                                         W("under", 1),
                                         W("until", 1),
                                         W("up", 1),
                                         W("upon", 1),
                                         W("without", 1),
                                         W("with", 1),
                                         W("within", 1)};
static const tpch_word auxiliaries[] = {W("do", 1),
                                        W("may", 1),
                                        W("might", 1),
                                        W("shall", 1),
                                        W("will", 1),
                                        W("would", 1),
                                        W("can", 1),
                                        W("could", 1),
                                        W("should", 1),
                                        W("ought to", 1),
                                        W("must", 1),
                                        W("will have to", 1),
                                        W("shall have to", 1),
                                        W("could have to", 1),
                                        W("should have to", 1),
                                        W("must have to", 1),
                                        W("need to", 1),
                                        W("try to", 1)};
static const tpch_word terminators[] = {W(".", 50), W(";", 1), W(":", 1),
                                        W("?", 1),  W("!", 1), W("--", 1)};
DIST(tpch_nouns, nouns);
DIST(tpch_verbs, verbs);
DIST(tpch_adjectives, adjectives);
DIST(tpch_adverbs, adverbs);
DIST(tpch_prepositions, prepositions);
DIST(tpch_auxiliaries, auxiliaries);
DIST(tpch_terminators, terminators);
